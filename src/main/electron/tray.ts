import { Menu, nativeImage, Notification, Tray } from 'electron';
import type { NativeTray, NativeTrayFactory } from '../tray-service.js';

export { TrayService } from '../tray-service.js';

/** The real system tray behind the TrayService's port: icons from files, the menu from its items. */
export const electronTray: NativeTrayFactory = (iconPath): NativeTray => {
  const tray = new Tray(nativeImage.createFromPath(iconPath));
  return {
    setImage: (path) => tray.setImage(nativeImage.createFromPath(path)),
    setToolTip: (text) => tray.setToolTip(text),
    setContextMenu: (items) => tray.setContextMenu(Menu.buildFromTemplate(items.map((i) => ({ ...i })))),
    on: (event, listener) => void tray.on(event, listener),
    destroy: () => {
      if (!tray.isDestroyed()) tray.destroy();
    },
  };
};

/** A desktop notification, where the platform supports them. */
export function notify(note: { title: string; body: string }): void {
  if (Notification.isSupported()) new Notification(note).show();
}
